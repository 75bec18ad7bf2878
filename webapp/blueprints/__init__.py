"""HTTP blueprints, one per area of the site. Views parse requests and render; rules live in
``webapp.services``."""
