"""What every stage shares and none owns: the machine a number was measured on (``machine``), output folders that
never delete what this project did not write (``outputs``), reading a Hub-layout dataset (``dataset_files``), telling
a model folder from anything else (``model_folder``), pushing a folder to the Hub (``hub``), the command-line
conventions (``cli``), and the project's constants and input conventions: Hub ids, default paths, the Hub-id rule, the
list splitter, the offline flag (``project``)."""
