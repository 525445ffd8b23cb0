job "mesh" {
  group "g" {
    network {
      mode = "bridge"
      port "mesh_wan" {}
    }
    service {
      name = "mesh-gateway"
      port = "mesh_wan"
      connect {
        gateway {
          mesh {}
        }
      }
      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
        port     = "connect-mesh-mesh-gateway-lan"
      }
    }
  }
}
