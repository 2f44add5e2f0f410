//go:build purego

package ivf

// puregoBuild: the portable kernels make OPQ training (fifty PQ
// alternations) several times slower; the tests that train OPQ run in the
// assembly builds only.
const puregoBuild = true
