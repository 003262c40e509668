"""What the dashboard's workspace keeps beside the queue: saved drafts and per-account posting slots.

``slots`` answers "when is this account's next free posting time" (what "add to queue" uses);
``drafts`` keeps a composer's unfinished post. Both live in the project database (migration 0010).
"""
