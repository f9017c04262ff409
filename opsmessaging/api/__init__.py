"""The HTTP API (Django REST framework): history, broadcasting, catalogue and status.

Include ``opsmessaging.api.urls`` under a prefix of your choice; it needs
``rest_framework`` (and ``rest_framework.authtoken`` for token authentication) and
``drf_spectacular`` for its OpenAPI description.
"""
