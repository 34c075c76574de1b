"""The merge handler: a webhook service that validates pull requests and deploys merges.

Event parser (events.py), signature check (signature.py), a durable job queue (queue.py), one
runner per job kind (runners.py), a VCS client interface with its GitHub implementation
(vcs.py), the HTTP app (app.py) and its worker threads (worker.py). Git work is in
handler/gitrepo.py, the exactly-once deployment in handler/deploy.py. Verify, acknowledge fast,
work asynchronously.
"""
