pytest_plugins = ["redcloud_check.plugin"]  # the whole suite lives in the plugin; see src/redcloud_check
