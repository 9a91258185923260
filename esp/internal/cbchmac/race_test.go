//go:build race

package cbchmac

// raceEnabled: the race detector's instrumentation allocates, so
// allocation-count tests cannot hold under -race.
const raceEnabled = true
