"""mpprof's in-process side: the C collector lives in mpprof._collector."""
