# SPDX-License-Identifier: Apache-2.0
# Packaging: the .deb built by cpack, installed, run the way its systemd
# unit runs it, and purged; the Kubernetes/Nomad manifests against what
# the package installs.
#
# package_deb installs into the system (dpkg -i, the ringfleet user, fixed
# ports of the shipped configuration), so it never runs alongside other
# tests. It expects the build to be done (ctest's caller builds).
rf_e2e_test(package_deb test_package.py TIMEOUT 300)
set_tests_properties(package_deb PROPERTIES RUN_SERIAL TRUE LABELS "e2e;package")
rf_e2e_test(package_deploy test_deploy.py TIMEOUT 60)
set_tests_properties(package_deploy PROPERTIES LABELS "e2e;package")
# The maintainer scripts' systemd half, which package_deb cannot reach on a
# host without systemd as PID 1: stubbed commands, a private /run.
rf_e2e_test(package_scripts test_package_scripts.py TIMEOUT 60)
set_tests_properties(package_scripts PROPERTIES LABELS "e2e;package")
# Issue 12's acceptance: a game module built out of tree against the
# header and pkg-config file of the unpacked .deb, run by its ringfleetd
# and played from Python clients. Installs nothing.
rf_e2e_test(package_game test_package_game.py TIMEOUT 300)
set_tests_properties(package_game PROPERTIES LABELS "e2e;package")
