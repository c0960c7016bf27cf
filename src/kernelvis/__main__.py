from kernelvis.cli import main

raise SystemExit(main())
