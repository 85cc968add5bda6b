"""The vendor's own Python wrappers, copied as its documentation gives them, against the relay.

Only ``base_url`` differs from the documented classes.
"""

from __future__ import annotations

from typing import Dict, Optional

import requests


class ZimSend:
    """The vendor's sending wrapper (docs: /sdks/python, /guides/sending-sms)."""

    def __init__(self, api_key: str, client_id: str, device_id: Optional[str] = None):
        self.api_key = api_key
        self.client_id = client_id
        self.device_id = device_id
        self.base_url = "https://api.zimsend.com/v1"

    def _get_headers(self) -> Dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "X-API-Key": self.api_key,
            "X-Client-ID": self.client_id,
        }
        if self.device_id:
            headers["X-Device-ID"] = self.device_id
        return headers

    def _post(self, path: str, payload: Dict) -> Dict:
        try:
            response = requests.post(f"{self.base_url}{path}", json=payload, headers=self._get_headers())
            return response.json()
        except requests.exceptions.RequestException as error:
            return {"success": False, "error": {"code": "NETWORK_ERROR", "message": str(error)}}

    def send_sms(self, to: str, message: str, options: Optional[Dict] = None) -> Dict:
        return self._post("/sms/send", {"to": to, "message": message, **(options or {})})

    def send_bulk_sms(self, recipients: list, message: str, options: Optional[Dict] = None) -> Dict:
        return self._post("/sms/send-bulk", {"recipients": recipients, "message": message, **(options or {})})

    def send_bulk_personalized_sms(self, messages: list) -> Dict:
        return self._post("/sms/send-bulk-personalized", {"messages": messages})


class ZimSendTracking:
    """The vendor's tracking wrapper, verbatim from its tracking page."""

    def __init__(self, api_key: str, client_id: str):
        self.api_key = api_key
        self.client_id = client_id
        self.base_url = "https://api.zimsend.com/v1"

    def _get_headers(self) -> Dict[str, str]:
        return {"X-API-Key": self.api_key, "X-Client-ID": self.client_id}

    def get_status(self, message_id: str) -> Dict:
        url = f"{self.base_url}/sms/status/{message_id}"
        response = requests.get(url, headers=self._get_headers())
        return response.json()


def test_the_vendors_wrappers_send_and_track_with_only_the_base_url_changed(relay, acme):
    device_id = relay.new_device(acme.client_id)
    sms = ZimSend(acme.api_key, acme.client_id, device_id)
    tracking = ZimSendTracking(acme.api_key, acme.client_id)
    sms.base_url = tracking.base_url = relay.base_url

    sent = sms.send_sms(
        "+33612345678",
        "Votre code de vérification est : 123456",
        {"priority": 1, "metadata": {"user_id": "user_123"}, "retry_attempts": 3},
    )
    assert sent["success"] is True and sent["status"] == "queued"
    assert sent["to"] == "+33612345678" and sent["queued_at"].endswith("Z")

    status = tracking.get_status(sent["message_id"])
    assert status["status"] == "queued"
    assert (status["message"], status["priority"]) == ("Votre code de vérification est : 123456", "urgent")
    assert status["metadata"] == {"user_id": "user_123"}
    assert status["device_id"] == device_id

    bulk = sms.send_bulk_sms(["+33612345678", "+33698765432", "+33698765433"], "Promo", {"priority": 5})
    assert bulk["success"] is True and bulk["total_recipients"] == 3
    assert [m["status"] for m in bulk["messages"]] == ["queued"] * 3

    personalized = sms.send_bulk_personalized_sms(
        [{"to": "+33612345678", "message": "Bonjour Jean", "metadata": {"user_id": "user_123"}},
         {"to": "+33698765432", "message": "Bonjour Marie"}]
    )
    assert [m["status"] for m in personalized["messages"]] == ["queued", "queued"]


def test_the_vendors_wrapper_sees_errors_in_the_documented_shape(relay, acme):
    sms = ZimSend(acme.api_key, acme.client_id)
    sms.base_url = relay.base_url
    answer = sms.send_sms("0612345678", "Hi")
    assert answer == {
        "success": False,
        "error": {
            "code": "INVALID_PHONE_NUMBER",
            "message": answer["error"]["message"],
            "param": "to",
        },
    }
