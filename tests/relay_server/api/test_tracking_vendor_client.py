"""The vendor's own Python tracking client works against the relay with only base_url changed."""

from __future__ import annotations

from typing import Dict, Optional

import requests
from tracking_data import seed, utc


# The Python example of the vendor's tracking page, verbatim.
class ZimSendTracking:
    def __init__(self, api_key: str, client_id: str):
        self.api_key = api_key
        self.client_id = client_id
        self.base_url = 'https://api.zimsend.com/v1'

    def _get_headers(self) -> Dict[str, str]:
        return {
            'X-API-Key': self.api_key,
            'X-Client-ID': self.client_id
        }

    def get_status(self, message_id: str) -> Dict:
        """Obtient le statut d'un SMS"""
        url = f'{self.base_url}/sms/status/{message_id}'
        response = requests.get(url, headers=self._get_headers())
        return response.json()

    def get_history(self, filters: Optional[Dict] = None) -> Dict:
        """Récupère l'historique des SMS"""
        url = f'{self.base_url}/sms/history'
        response = requests.get(url, params=filters, headers=self._get_headers())
        return response.json()

    def cancel_message(self, message_id: str) -> Dict:
        """Annule un SMS programmé"""
        url = f'{self.base_url}/sms/{message_id}'
        response = requests.delete(url, headers=self._get_headers())
        return response.json()

    def get_stats(self, from_date: str, to_date: str) -> Dict:
        """Obtient les statistiques d'envoi"""
        url = f'{self.base_url}/sms/stats'
        params = {
            'from_date': from_date,
            'to_date': to_date
        }
        response = requests.get(url, params=params, headers=self._get_headers())
        return response.json()


def test_the_vendors_tracking_client_reads_status_history_stats_and_cancels(relay, acme):
    delivered = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 10, 30, 0), status="delivered")
    failed = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 11, 0, 0), status="failed")
    scheduled = seed(relay.store, acme.client_id, created_at=utc(2025, 1, 15, 12, 0, 0))
    tracking = ZimSendTracking(acme.api_key, acme.client_id)
    tracking.base_url = relay.base_url

    status = tracking.get_status(delivered.message_id)
    assert status['status'] == 'delivered'
    assert status.get('delivered_at') == '2025-01-15T10:30:02Z'

    history = tracking.get_history({'status': 'delivered', 'limit': 50, 'page': 1})
    assert [item['message_id'] for item in history['data']] == [delivered.message_id]
    assert history['pagination']['total_items'] == 1

    assert tracking.cancel_message(scheduled.message_id)['status'] == 'cancelled'
    refused = tracking.cancel_message(failed.message_id)
    assert refused['success'] is False and refused['error']['code'] == 'CANNOT_CANCEL_MESSAGE'

    stats = tracking.get_stats('2025-01-01T00:00:00Z', '2025-01-31T23:59:59Z')
    assert stats['stats']['total_sent'] == 2
    assert stats['stats']['delivery_rate'] == 50.0
    assert stats['period'] == {'from': '2025-01-01T00:00:00Z', 'to': '2025-01-31T23:59:59Z'}
