"""`python -m benchmarks --profile quick|full|tiny` (see benchmarks/harness.py)."""

from benchmarks.harness import main

raise SystemExit(main())
