"""Chained by mpprof's sitecustomize before the collector starts: starts
early_thread's worker, so a thread runs before profiling begins."""
import early_thread

early_thread.start()
