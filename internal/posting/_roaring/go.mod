module github.com/nearkit/nearkit/internal/posting/roaringbench

go 1.26.0

replace github.com/nearkit/nearkit => ../../..

require (
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/mschoch/smat v0.2.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

require (
	github.com/RoaringBitmap/roaring/v2 v2.30.0
	github.com/nearkit/nearkit v0.0.0
)
