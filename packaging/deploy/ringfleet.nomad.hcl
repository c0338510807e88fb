# SPDX-License-Identifier: Apache-2.0
# ringfleet on Nomad: one ringfleetd per client node (a system job), on the
# node's network so game clients reach the UDP ports directly. The same
# image, configuration and health checks as ringfleet-daemonset.yaml.
#
#   nomad job run ringfleet.nomad.hcl
#
# Mark the client nodes that host game servers in their agent config:
#   client { meta { ringfleet_host = "true" } }
job "ringfleet" {
  type = "system"

  constraint {
    attribute = "${meta.ringfleet_host}"
    value     = "true"
  }

  # One node's game servers down at a time.
  update {
    max_parallel = 1
  }

  group "ringfleet" {
    restart {
      attempts = 3
      interval = "5m"
      delay    = "10s"
      mode     = "delay"
    }

    task "ringfleetd" {
      driver = "docker"

      config {
        image        = "ringfleet:0.1.0"
        # Game ports are bound on the node itself, no NAT in the path.
        network_mode = "host"
        # ExecStart of ringfleet.service.
        command = "/usr/bin/ringfleetd"
        args    = ["-c", "/etc/ringfleet/ringfleet.ini"]
        # Ports above 1024 and no SO_RCVBUFFORCE: no capability at all
        # (see ringfleet.service).
        cap_drop        = ["all"]
        security_opt    = ["no-new-privileges"]
        readonly_rootfs = true

        # The rendered template below. The directory, not the file: a
        # re-rendered file is a new inode, which a file bind mount would
        # never show.
        mount {
          type     = "bind"
          source   = "local/etc"
          target   = "/etc/ringfleet"
          readonly = true
        }
        # control_socket's directory; the root filesystem is read-only.
        # Docker's default tmpfs mode (1777) lets the image's user in.
        mount {
          type   = "tmpfs"
          target = "/run/ringfleet"
          tmpfs_options {
            size = 1048576
          }
        }
      }

      # The same file as the Kubernetes ConfigMap (test_deploy checks they
      # match and that `ringfleetd --check` accepts it). A change is applied
      # with SIGHUP: ringfleetd reloads, leaving unchanged servers alone,
      # and keeps the running configuration if the new one is invalid.
      template {
        destination   = "local/etc/ringfleet.ini"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        data          = <<-EOF
          ; ringfleetd configuration for a container; the Kubernetes ConfigMap and
          ; the Nomad job's template carry this same file. Every key is documented
          ; in /usr/share/doc/ringfleet/examples/ringfleet.ini.
          [supervisor]
          ; A directory of its own in the container (emptyDir, tmpfs); the health
          ; checks find the socket through this file.
          control_socket = /run/ringfleet/control.sock
          ; No cpus and no cpu pins: workers spread over the CPUs the container may
          ; run on, which the orchestrator reserves for it (Kubernetes: Guaranteed
          ; pod under the static CPU manager; Nomad: resources.cores). Explicit CPU
          ; numbers would not match whichever cores it hands out.
          placement = balance
          stop_timeout_ms = 5000
          log_level = info

          [defaults]
          bind = 0.0.0.0
          tick_hz = 50
          max_clients = 64
          socket_rcvbuf = 4M
          ; auto: io_uring where the runtime's seccomp profile allows it, else
          ; recvmmsg/sendmmsg (`ringfleetctl status` shows which).
          backend = auto
          ; The container already runs unprivileged; nothing to drop to.
          user =

          [server eu-1]
          port = 7001

          [server eu-2]
          port = 7002

          [pool lobby]
          ports = 7100-7139
          tick_hz = 30
        EOF
      }

      # ringfleetd stops its workers gracefully on SIGTERM (Nomad's default
      # is SIGINT, which would work too) within stop_timeout_ms (5 s).
      # Nomad has no pre-stop hook to drain with (lifecycle hooks are
      # prestart, poststart and poststop only): drain before stopping the
      # job or the node, e.g.
      #   nomad alloc exec -task ringfleetd ALLOC \
      #     ringfleetctl -c /etc/ringfleet/ringfleet.ini drain --timeout 120
      # (docs/operations.md). kill_timeout is the unit's TimeoutStopSec,
      # room for a drain run from a wrapper entrypoint; the client agent's
      # max_kill_timeout caps it.
      kill_signal  = "SIGTERM"
      kill_timeout = "135s"

      resources {
        # Whole cores reserved for this task alone (Nomad pins the task to
        # them); they become ringfleetd's `cpus`. The Kubernetes manifest
        # asks for the same 2.
        cores  = 2
        memory = 512
      }

      # Script checks run inside the task; Nomad's own service provider has
      # only http/tcp checks, so this needs Consul.
      service {
        name     = "ringfleet"
        provider = "consul"

        # Every server running (exit 0); 3 while one is starting, in
        # backoff or fatal. Informational: ringfleetd restarts servers.
        check {
          name     = "servers-running"
          type     = "script"
          command  = "/usr/bin/ringfleetctl"
          args     = ["-c", "/etc/ringfleet/ringfleet.ini", "status"]
          interval = "10s"
          timeout  = "5s"
        }

        # The supervisor answers. Only this one restarts the task: one
        # crashing server must not take every healthy one down with it.
        check {
          name     = "supervisor-alive"
          type     = "script"
          command  = "/usr/bin/ringfleetctl"
          args     = ["-c", "/etc/ringfleet/ringfleet.ini", "ping"]
          interval = "10s"
          timeout  = "5s"

          check_restart {
            limit = 3
            grace = "10s"
          }
        }
      }
    }
  }
}
