//go:build !purego

package ivf

const puregoBuild = false
