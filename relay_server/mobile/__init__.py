"""Android phones as devices, through the SMSGate app's private-server API (``/api/mobile/v1``).

Facts about the app (paths, field names, date format, states, retries) come
from its source and its reference server's (capcom6/android-sms-gateway 1.68,
android-sms-gateway/server 1.47 ``handlers/mobile.go``, client-go 1.13
``requests_mobile.go``, ``responses_mobile.go``, ``domain_messages.go``,
``domain_settings.go``), summed up in ``spec/smsgate-protocol.md``.

How a phone fits the relay:

- It is a device like a modem agent's, of one client, with a ``mobile_devices``
  row beside it (``store.mobile_devices``). The relay holds its signing key and
  turns everything the phone reports into the same signed events an agent
  sends, on the same events queue (``reports``): the worker applies them as it
  applies an agent's, so heartbeats, ``device.*`` webhooks, offline detection
  and forward-only, idempotent status moves are the same code.
- It serves only the messages placed on its own device (``X-Device-ID``). A
  message on the client's shared queues is for the client's agents: the phone
  takes its messages when it acknowledges them, after it may already have sent
  them, so sharing a queue with an agent could send one twice. The send job
  that placement puts on the phone's device queue is never taken by an agent
  (none listens there); the phone pulls its messages from the store
  (``GET /message``, ``pending``), and the job is dropped once the phone
  claims it.
- The claim against cancel is the agents' (``wire.claim_key``), made when the
  phone first reports on a message (``PATCH /message``). A cancel that wins it
  keeps the message cancelled whatever the phone says after; a cancel made on
  the phone takes the claim from it (``cancels``). One the phone was handed and
  never reported on fails, its outcome unknown, once the phone is disabled or
  silent past its bound (``handing``, ``worker.unreported``).
- A message to a number its client blocked is never listed to the phone: the
  pull, or the worker's round, fails one no pull had handed the phone with
  BLOCKED_NUMBER, and leaves one it had to the phone's report (``handing``).
- Wake-ups (a message placed, a message cancelled) go through Redis pub/sub
  (``wake``), so any relay process can wake a phone whose event stream
  (``stream``) another process holds.
- Incoming SMS come through the phone's own webhooks (``inbound``); after a
  silence, the phone's next stream asks it to send again what it received
  meanwhile (``downtime``).
"""
