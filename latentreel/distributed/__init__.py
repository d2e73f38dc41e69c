"""Renders that outgrow one machine: whole segments rendered by Ray actors.

``cluster``  connecting to Ray (a private local instance or an existing cluster), bounded waits
``worker``   the Ray actor: loads the generator once, renders whole segments, returns the bytes
``runner``   the driver: resolves keyframes once, hands out segments, retries lost ones, joins

Ray is an optional extra (``pip install 'latentreel[ray]'``); nothing here imports it at module
level, so the rest of latentreel works without it.
"""
