"""`apply`: diff a new build against the running one, roll it out, smoke-test, roll back."""
