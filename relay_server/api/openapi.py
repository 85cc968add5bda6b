from flask import Blueprint

bp = Blueprint("openapi", __name__, url_prefix="/v1")
