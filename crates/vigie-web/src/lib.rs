//! vigie web: the dashboard, the REST API, sessions and API tokens.
