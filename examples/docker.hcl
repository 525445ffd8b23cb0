# A job written for Nomad's Docker driver, run by nomadic on containerd.
#   nctl validate docker.hcl && nctl apply -f docker.hcl
# The node's containerd pulls redis (docker.io/library/redis:7); the group's
# bridge network maps the node's dynamic port to 6379 in the container.
job "cache" {
  group "redis" {
    count = 1

    scaling {
      min = 1
      max = 3
    }

    network {
      mode = "bridge"
      port "db" {
        to = 6379
      }
    }

    service {
      name     = "redis"
      port     = "db"
      provider = "nomad"

      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "redis" {
      driver = "docker"

      config {
        image   = "redis:7"
        args    = ["--save", "60", "1", "--dir", "/data"]
        ports   = ["db"]
        volumes = ["local/data:/data"]

        ulimit {
          nofile = "65536:65536"
        }
        labels {
          "com.example.team" = "cache"
        }
      }

      env {
        TZ = "UTC"
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
