from flask import Blueprint

bp = Blueprint("sending", __name__, url_prefix="/v1")
