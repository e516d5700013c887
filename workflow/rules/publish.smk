# Publishing: the small record of a reproduction (tables, PNG figures, the comparison with the paper,
# provenance) that is committed, e.g. reproduction/fashion_mnist/, regenerated from results/.
# Built only when asked for: `snakemake --configfile config/fashion_mnist.yaml publish`.


localrules:
    publish,


rule publish:
    input:
        unpack(publish_inputs),
    output:
        directory(config["publish"]["folder"] if config["publish"] else "results/publish-not-configured"),
    params:
        command=publish_command(),
        code=code("publish"),
    conda:
        "../../envs/analysis.yaml"
    log:
        "results/logs/publish.log",
    script:
        "../scripts/publish.py"
