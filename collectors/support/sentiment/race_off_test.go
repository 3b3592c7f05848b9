//go:build !race

package sentiment

const raceEnabled = false
