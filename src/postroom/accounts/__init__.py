"""People who use the console: their role and the queues they belong to; who may see and do what."""
