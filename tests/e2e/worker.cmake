# SPDX-License-Identifier: Apache-2.0
# worker: ringfleet-worker on loopback, once per backend. The io_uring run
# exits 77 (skipped) where io_uring is unavailable.
rf_e2e_test(worker_e2e_io_uring test_worker.py TIMEOUT 240 ARGS --backend io_uring)
rf_e2e_test(worker_e2e_mmsg test_worker.py TIMEOUT 240 ARGS --backend mmsg)
