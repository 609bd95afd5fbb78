// Package bench holds Sluice's load generators: end-to-end measurements
// reported as ratios against baselines measured in the same run (raw
// Badger writes, the same connector linked natively), never as timed
// assertions. `sluice bench ...` and `make bench` drive it.
package bench
