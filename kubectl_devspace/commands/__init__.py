"""One module per subcommand; each defines ``command``, loaded by ``cli.LazyGroup``."""
