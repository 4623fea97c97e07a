# The Triton model repository (models/repository: config.pbtxt + model.onnx per model) for
# the chart's init container, which copies /models into the Triton pod.
#   docker build -f docker/model-repository.Dockerfile -t veritas-model-repository:0.1.0 .
FROM busybox:1.37.0
COPY models/repository /models
USER 65532:65532
CMD ["cp", "-R", "/models/.", "/model-repository/"]
