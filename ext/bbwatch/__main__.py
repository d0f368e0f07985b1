from bbwatch.cli import main

raise SystemExit(main())
