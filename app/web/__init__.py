"""The HTTP and browser side of the API: the GraphQL view (`graphql_view`), CORS, CSRF,
security headers, body size cap (`stack.middleware(settings)` is the stack `create_app`
installs), GraphQL-over-HTTP content negotiation, the self-hosted GraphiQL page and the
health check."""
