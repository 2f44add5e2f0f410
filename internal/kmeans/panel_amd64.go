//go:build gc && !purego

package kmeans

import "golang.org/x/sys/cpu"

// hasPanel reports the AVX-512 panel kernel for the assignment step; like
// the distance package, GODEBUG=cpu.avx512f=off (or cpu.avx2=off) turns it
// off. It is set once and never changed.
var hasPanel = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVX512F

func panelArgmin(x []float32, dim int, panels []float32, npanels int, norms []float32, base int32, bestV []float32, bestI []int32) {
	if len(x) < panelRows*dim || len(panels) < npanels*panelWidth*dim || len(norms) < npanels*panelWidth ||
		len(bestV) < panelRows*panelWidth || len(bestI) < panelRows*panelWidth || npanels <= 0 || dim <= 0 {
		panic("kmeans: panelArgmin: inconsistent sizes")
	}
	if raceEnabled {
		raceRead(x[:panelRows*dim])
		raceRead(panels[:npanels*panelWidth*dim])
		raceRead(norms[:npanels*panelWidth])
		raceWrite(bestV[:panelRows*panelWidth])
		raceWrite(bestI[:panelRows*panelWidth])
	}
	panelArgminAVX512(&x[0], dim, &panels[0], npanels, &norms[0], base, &bestV[0], &bestI[0])
}
