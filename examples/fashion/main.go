// Command fashion indexes Fashion-MNIST (60,000 clothing images of 28×28
// grey pixels, 784-d vectors) with HNSW and draws what the index finds: a
// PNG grid with, for a few test images, the query beside its 10 nearest
// training images, each labelled with its class and Euclidean distance
// (neighbours of another class than the query's in red).
//
//	go run ./examples/fashion                       # writes fashion.png
//	go run ./examples/fashion -queries 8 -out grid.png
//
// It reads the Debian package dataset-fashion-mnist
// (/usr/share/datasets/fashion-mnist); -dir points elsewhere, at the four
// *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

var classes = [10]string{"T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

const k = 10

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fashion:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("fashion", flag.ContinueOnError)
	dir := fl.String("dir", dataset.FashionMNISTDir, "directory holding the Fashion-MNIST *-ubyte.gz files")
	out := fl.String("out", "fashion.png", "PNG file to write")
	nq := fl.Int("queries", 6, "test images to show (rows of the grid)")
	n := fl.Int("n", 60000, "training images to index (the first N)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	base, nb, dim, err := dataset.LoadIDX(filepath.Join(*dir, "train-images-idx3-ubyte.gz"))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("Fashion-MNIST not found in %s: install it with `apt-get install dataset-fashion-mnist`, "+
			"or download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist and pass -dir", *dir)
	}
	if err != nil {
		return err
	}
	baseLabels, _, _, err := dataset.LoadIDX(filepath.Join(*dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		return err
	}
	test, nt, _, err := dataset.LoadIDX(filepath.Join(*dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		return err
	}
	testLabels, _, _, err := dataset.LoadIDX(filepath.Join(*dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return err
	}
	if dim != 28*28 || len(baseLabels) != nb || len(testLabels) != nt {
		return fmt.Errorf("unexpected shapes: %d train images of %d pixels, %d labels; %d test images, %d labels", nb, dim, len(baseLabels), nt, len(testLabels))
	}
	*n = min(max(*n, k), nb)
	*nq = min(max(*nq, 1), nt)

	idx, err := hnsw.New(hnsw.Config{Dim: dim, Metric: distance.L2})
	if err != nil {
		return err
	}
	defer idx.Close()
	ids := make([]uint64, *n)
	for i := range ids {
		ids[i] = uint64(i) // the row number, so the label is baseLabels[id]
	}
	t0 := time.Now()
	if err := idx.AddBatch(context.Background(), ids, base[:*n*dim]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "indexed %d images in %.1fs\n", *n, time.Since(t0).Seconds())

	const cell, textH, gap = 84, 30, 12 // 28×28 drawn 3×, two text lines
	img := image.NewRGBA(image.Rect(0, 0, (k+1)*cell+gap+(k+1)*4, *nq*(cell+textH+6)))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	same := 0
	res := make([]nearkit.Result, 0, k)
	for row := range *nq {
		q := row * nt / *nq // spread over the test set
		qv := test[q*dim : (q+1)*dim]
		if res, err = idx.Search(res[:0], qv, k, nearkit.SearchOptions{Ef: 64}); err != nil {
			return err
		}
		y := row * (cell + textH + 6)
		ql := int(testLabels[q])
		tile(img, 0, y, qv, cell)
		label(img, 0, y+cell, "query", classes[ql], color.Black)
		fmt.Fprintf(stdout, "query %d (%s):", q, classes[ql])
		for j, r := range res {
			x := gap + (j+1)*(cell+4)
			bl := int(baseLabels[r.ID])
			c := color.Color(color.Black)
			if bl == ql {
				same++
			} else {
				c = color.RGBA{200, 0, 0, 255}
			}
			d := math.Sqrt(float64(r.Distance)) // L2 distances are squared
			tile(img, x, y, base[int(r.ID)*dim:(int(r.ID)+1)*dim], cell)
			label(img, x, y+cell, classes[bl], fmt.Sprintf("d=%.0f", d), c)
			fmt.Fprintf(stdout, " %s %.0f,", classes[bl], d)
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "%d of %d neighbours share their query's class\n", same, *nq*k)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// tile draws a 28×28 image of 0..255 pixels (0 is background) at x, y,
// scaled to size and inverted so clothes are dark on white.
func tile(img *image.RGBA, x, y int, px []float32, size int) {
	for dy := range size {
		for dx := range size {
			v := px[(dy*28/size)*28+dx*28/size]
			img.Set(x+dx, y+dy, color.Gray{255 - uint8(min(max(v, 0), 255))})
		}
	}
}

func label(img *image.RGBA, x, y int, l1, l2 string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13}
	for i, s := range []string{l1, l2} {
		d.Dot = fixed.P(x+1, y+12+13*i)
		d.DrawString(s)
	}
}
