"""The long-running service: receiver, worker, poll, scheduler, daily job, metrics."""
