package distance

// impl is one implementation of the kernels. Tests and benchmarks iterate
// over every implementation the CPU can run; a nil field means the
// implementation does not accelerate that kernel and the generic one is
// used in its place.
type impl struct {
	name             string
	squaredL2        func(a, b []float32) float32
	dot              func(a, b []float32) float32
	squaredL2Batch   func(q, data []float32, dim int, out []float32)
	dotBatch         func(q, data []float32, dim int, out []float32)
	squaredL2Gather  func(q, data []float32, dim int, rows []uint32, out []float32)
	dotGather        func(q, data []float32, dim int, rows []uint32, out []float32)
	dotUint8         func(a, b []uint8) uint32
	squaredL2Uint8   func(a, b []uint8) uint32
	dotInt8          func(a, b []int8) int32
	squaredL2Int8    func(a, b []int8) uint32
	pqLookupSum      func(table []float32, code []uint8) float32
	pqLookupSumBatch func(table []float32, codes []uint8, m int, out []float32)
	squaredL2Float16 func(q []float32, x []uint16) float32
	dotFloat16       func(q []float32, x []uint16) float32
}

var genericImpl = impl{
	name:             "generic",
	squaredL2:        squaredL2Generic,
	dot:              dotGeneric,
	squaredL2Batch:   squaredL2BatchGeneric,
	dotBatch:         dotBatchGeneric,
	squaredL2Gather:  squaredL2GatherGeneric,
	dotGather:        dotGatherGeneric,
	dotUint8:         dotUint8Generic,
	squaredL2Uint8:   squaredL2Uint8Generic,
	dotInt8:          dotInt8Generic,
	squaredL2Int8:    squaredL2Int8Generic,
	pqLookupSum:      pqLookupSumGeneric,
	pqLookupSumBatch: pqLookupSumBatchGeneric,
	squaredL2Float16: squaredL2Float16Generic,
	dotFloat16:       dotFloat16Generic,
}

// implementations returns every implementation this CPU can run, the
// generic one first, with nil kernels filled in from the generic one.
func implementations() []impl {
	out := []impl{genericImpl}
	for _, im := range archImplementations() {
		fill(&im)
		out = append(out, im)
	}
	return out
}

func fill(im *impl) {
	g := genericImpl
	if im.squaredL2 == nil {
		im.squaredL2 = g.squaredL2
	}
	if im.dot == nil {
		im.dot = g.dot
	}
	if im.squaredL2Batch == nil {
		im.squaredL2Batch = g.squaredL2Batch
	}
	if im.dotBatch == nil {
		im.dotBatch = g.dotBatch
	}
	if im.squaredL2Gather == nil {
		im.squaredL2Gather = g.squaredL2Gather
	}
	if im.dotGather == nil {
		im.dotGather = g.dotGather
	}
	if im.dotUint8 == nil {
		im.dotUint8 = g.dotUint8
	}
	if im.squaredL2Uint8 == nil {
		im.squaredL2Uint8 = g.squaredL2Uint8
	}
	if im.dotInt8 == nil {
		im.dotInt8 = g.dotInt8
	}
	if im.squaredL2Int8 == nil {
		im.squaredL2Int8 = g.squaredL2Int8
	}
	if im.pqLookupSum == nil {
		im.pqLookupSum = g.pqLookupSum
	}
	if im.pqLookupSumBatch == nil {
		im.pqLookupSumBatch = g.pqLookupSumBatch
	}
	if im.squaredL2Float16 == nil {
		im.squaredL2Float16 = g.squaredL2Float16
	}
	if im.dotFloat16 == nil {
		im.dotFloat16 = g.dotFloat16
	}
}
