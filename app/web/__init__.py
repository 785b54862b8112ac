"""The HTTP and browser side of the API: CORS, CSRF, security headers, body size cap,
GraphQL-over-HTTP content negotiation and the self-hosted GraphiQL page.

`middleware(settings)` is the stack `create_app` installs; `GraphQLOverHTTP` is the base
of the app's Strawberry view.
"""

from app.web.stack import middleware

__all__ = ["middleware"]
