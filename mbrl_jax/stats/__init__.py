"""Host-side statistics of finished runs: episode returns and lengths (`episodes`), IQM with
bootstrap bands and run comparison (`compare`), learning-curve plots (`plotting`) and the
per-chunk records and summary tables the driver writes (`report`). numpy and matplotlib only."""
