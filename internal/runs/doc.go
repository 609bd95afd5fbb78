// Package runs connects the scheduler to the engine for the API: a
// queued job becomes an engine run under the job's run id, and the run
// records the API lists come from the store, merged with the jobs still
// waiting in the queue.
package runs
