from llmproxy_ops.cli.main import main

main()
