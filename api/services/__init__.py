"""The API's use cases, below the routes: plain values and a session in, resources or typed errors out."""
