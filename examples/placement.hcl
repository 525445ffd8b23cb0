# Placement rules: every constraint operator, affinities and spread.
job "placement" {
  datacenters = ["eu-*"]
  node_pool   = "default"

  constraint {
    attribute = "${attr.cpu.arch}"
    operator  = "!="
    value     = "arm64"
  }

  constraint {
    attribute = "${attr.kernel.version}"
    operator  = "version"
    value     = ">= 5.10"
  }

  constraint {
    attribute = "${meta.rack}"
    operator  = "regexp"
    value     = "^r[0-9]+$"
  }

  constraint {
    attribute = "${meta.features}"
    operator  = "set_contains_any"
    value     = "ssd,nvme"
  }

  constraint {
    attribute = "${meta.gpu}"
    operator  = "is_not_set"
  }

  constraint {
    distinct_hosts = true
  }

  affinity {
    attribute = "${node.class}"
    value     = "fast"
    weight    = 80
  }

  affinity {
    attribute = "${meta.spot}"
    value     = "true"
    weight    = -50
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "eu-west" {
      percent = 60
    }

    target "eu-central" {
      percent = 40
    }
  }

  group "cache" {
    count = 10

    constraint {
      distinct_property = "${meta.rack}"
    }

    spread {
      attribute = "${meta.rack}"
    }

    task "redis" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/redis-server"
      }

      resources {
        cpu    = 300
        memory = 1024
      }
    }
  }
}
