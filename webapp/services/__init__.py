"""Plain service functions holding Passages' rules; views and jobs call them, tests call them
directly. A service never renders HTML nor reads the request."""
