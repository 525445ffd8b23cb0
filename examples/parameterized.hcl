# A parameterized batch job, launched with `nctl job dispatch`.
job "thumbnail" {
  type = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["image_url"]
    meta_optional = ["size"]
  }

  group "resize" {
    task "resize" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/resize"
        args    = ["${NOMAD_META_image_url}"]
      }
    }
  }
}
