from bbwatch.commands.main import main

raise SystemExit(main())
