"""Where records come from: files, APIs, generators. Each yields Arrow batches the kernel reads."""
