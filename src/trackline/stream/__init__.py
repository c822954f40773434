"""The streaming pipeline: publisher, consumer loop, raw/dead-letter lake writer, warehouse sink."""
