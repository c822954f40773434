"""HTTP services (needs `pip install 'trackline[web]'`): the session worker's push endpoint."""
