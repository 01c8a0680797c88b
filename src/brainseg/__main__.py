from brainseg.cli import main

raise SystemExit(main())
