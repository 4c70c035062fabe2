"""What the API and the worker share that is not SQL: settings, the broker contract, live-event hints, downsampling."""
