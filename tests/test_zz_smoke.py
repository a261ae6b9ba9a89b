def test_smoke(project, plugin_args):
    project.standard(thresholds={"behavior": 0.4})
    r = project.run_subprocess(*plugin_args, "-v", "-rA")
    print(r.stdout.str())
    print(r.stderr.str())
    assert 0
